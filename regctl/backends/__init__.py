"""The stores regctl reads and writes, one package each; they import only regctl.core."""
