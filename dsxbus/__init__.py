"""dsx-bus domain core: pure, typed Python with no Pulumi imports."""
