"""Alerts: conditions found in stored data, grouped per subscriber, sent by e-mail or webhook."""
