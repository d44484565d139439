"""Model files: where a download may go (targets), where it comes from (sources, hf), the SSRF guard (netguard),
the transfer itself (transfer), the queue (service, records), and the installed models (library, catalogue)."""
