"""flowdrop's version: what every code package records and the deployer's /health reports."""

__version__ = "0.1.0"
