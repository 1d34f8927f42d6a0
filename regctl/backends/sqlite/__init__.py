"""MLflow's SQLite database (``sqlite:///mlflow.db``)."""
