"""Local fakes of the services Atelier talks to, bound to 127.0.0.1."""
