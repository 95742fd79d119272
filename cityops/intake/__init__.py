"""Alarm intake beyond HTTP: the event audit log, incidents, and the MQTT subscriber."""
