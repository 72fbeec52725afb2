"""Running Atelier as a service: health and metrics over HTTP, structured logs."""
