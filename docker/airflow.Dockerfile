# Airflow 3 with the lakever provider, the Spark provider, PySpark and a JVM, so the
# example DAGs run in the compose stack exactly as they do locally.
FROM apache/airflow:3.3.2-python3.11

USER root
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless \
    && rm -rf /var/lib/apt/lists/*
USER airflow
COPY --chown=airflow pyproject.toml README.md /opt/lakever/
COPY --chown=airflow airflow_provider_lakever /opt/lakever/airflow_provider_lakever
RUN pip install --no-cache-dir "apache-airflow==3.3.2" /opt/lakever \
    "apache-airflow-providers-apache-spark==6.3.4" "apache-airflow-providers-celery" "pyspark==4.3.0"
