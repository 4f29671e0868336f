"""Light descriptor modules, one per architecture family: no torch until a network is built."""
