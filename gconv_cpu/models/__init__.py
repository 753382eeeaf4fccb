"""Network builders (MobileNet V1/V2, ShuffleNet V1/V2, MobileFaceNet, GDC head)."""
