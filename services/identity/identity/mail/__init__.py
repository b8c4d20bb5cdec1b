"""identity's mails to people: the verification code, a password-reset link and the notice
that a password changed, queued through the kit's mail outbox (:mod:`servicekit.mail`) in the
transaction of the change, in the language of the request (Accept-Language) or else the
municipality's, on the municipality's letterhead."""
