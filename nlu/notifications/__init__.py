"""Dossier status notifications: the authority speaks first.

After a successful look-up the dialogue offers to notify the citizen (``dialogue``); a yes
stores a subscription with the time of consent. ``hotline dossiers sync`` reads the
one-stop-shop system (``sync``: a CSV folder or an HTTP JSON API), and every change of a
dossier's status or result date with active subscriptions puts one message per subscription
in the outbox (``service``), keyed by an idempotency key unique in the table, so a sync run
twice enqueues nothing new. ``hotline notifications work`` sends them (``outbox``) over Zalo
OA, SMS or the web widget's inbox (``senders``), with retries, backoff and a dead-letter
state that staff see on ``/staff/notifications``.

Delivery is at least once, made effectively once by the provider: see ``outbox``.
"""
