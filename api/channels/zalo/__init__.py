"""Zalo Official Account channel: a signed webhook in, the OA send-message API out, the same
dialogue as the web widget in between (README "Zalo Official Account")."""
