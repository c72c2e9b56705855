"""Carrier SIP trunks (inbound DIDs, outbound routes) and agent SIP phones: config and pure rules."""
