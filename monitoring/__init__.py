"""Monitoring outside the worker: the dashboard's panels (for Grafana and for
a report without Docker) and Prometheus' and Grafana's configuration.

Imports nothing of the project: it reads the worker's ``/metrics`` only.
"""
