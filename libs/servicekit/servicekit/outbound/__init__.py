"""Calls to URLs that someone configured: partner municipalities, webhooks.

Such a URL is chosen by an administrator or a partner, not by us, so a call to it must not
become a way into our own network (server-side request forgery): to the cloud's metadata
address, the database next door, the cluster's internal names, or a port scan through the
reasons we report. ``client.outbound_client`` returns an ``httpx.AsyncClient`` whose transport

- refuses any scheme but https outside development and tests (``policy.OutboundPolicy``), and
  URLs with credentials in them;
- resolves the host itself and checks *every* address it resolves to: loopback, private,
  link-local, multicast, unique-local, reserved and unspecified addresses are refused unless
  the policy's allow-list names their network;
- connects to the address it checked (the URL's host is replaced by it; the ``Host`` header and
  the TLS server name stay the host's, so the certificate is still verified for the name), so a
  second DNS answer cannot send the connection elsewhere (DNS rebinding);
- keeps a connection pool per host name, so a connection verified for one name never carries
  another's request;
- follows no redirect and reads no proxy settings from the environment.

A refusal is a ``client.OutboundRefused`` (an ``httpx.TransportError``): callers that already
treat an unreachable peer as unavailable need no new branch. Its message says why, for the
administrator's eyes; an anonymous caller should learn no more than "unavailable".
``client.read_bounded`` reads an answer up to a size limit. The policy alone
(``policy.OutboundPolicy.check_literal``) refuses at registration what can be told without
resolving a name.
"""
