"""identity's mails to people: the verification code, a password-reset code, the notices that
a password or an address changed, the code that confirms a new address, a staff invitation and
the "you have an account already" answer to a second registration, queued through the kit's
mail outbox (:mod:`servicekit.mail`) in the transaction of the change, in the language of the
request (Accept-Language) or else the municipality's, on the municipality's letterhead."""
