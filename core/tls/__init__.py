"""HTTPS on the home network: a local certificate authority, this machine's certificate, the phone's trust page.

``authority`` makes and keeps the certificates (in ``<data folder>/tls``), ``machine`` finds this machine's names
and LAN addresses, ``cli`` is ``scripts/tls.py`` and ``trust_page`` renders ``/cozygen/trust``.
"""
