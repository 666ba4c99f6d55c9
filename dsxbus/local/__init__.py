"""The local federation: real nats-server processes on 127.0.0.1 built from the same domain code."""
