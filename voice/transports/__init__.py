"""Telephony protocols as serializers: bytes or JSON in, typed frames out, and back."""
