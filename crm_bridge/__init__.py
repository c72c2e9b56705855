"""crm_bridge: the unified customer profile behind every screen pop.

One permanent customer ID per owner, all of its services (mobile, fixed line, Gphone, internet, TV),
its tier with the reason, loyalty points and recent interactions, found by any number it holds.
"""
