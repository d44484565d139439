"""Web Push (RFC 8030, 8291, 8292): the VAPID keys, the subscriptions per user and device, who is told when a
job ends and what the notification says. Sending over the network is the api layer's (api/push_sender.py)."""
