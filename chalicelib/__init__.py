"""flowdrop."""
