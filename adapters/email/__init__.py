"""Email as a platform: the outbox's messages to mailboxes, and to people reached by no chat
platform, sent over SMTP with the case's forms attached."""
