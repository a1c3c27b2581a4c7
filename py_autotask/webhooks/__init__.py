"""Autotask webhooks: receiving callouts, registering webhooks (``_register``)."""
