"""Exchange edges: wire-format parsers (pure) and, later, the connection runners. No Textual import."""
