-- Run once by the postgres image on a fresh volume: one database per server.
CREATE DATABASE mlflow;
CREATE DATABASE prefect;
