"""Web interactions: customer chat and callback requests from the operator's website, and the channel
interface other messaging channels (Zalo OA, SMS) plug into."""
