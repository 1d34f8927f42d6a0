"""An MLflow tracking server, through its REST API and artifact proxy."""
