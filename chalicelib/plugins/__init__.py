"""Names Metaflow code reaches under `metaflow.plugins`, kept where Metaflow keeps them (e.g. TimeoutException)."""
