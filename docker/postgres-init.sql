-- One PostgreSQL for the stack: lakever's metadata and Airflow's own database.
CREATE DATABASE lakever;
CREATE DATABASE airflow;
