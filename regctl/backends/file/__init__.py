"""MLflow's file store (an ``mlruns/`` tree of YAML meta files)."""
