"""Privacy primitives: masks, face and head obscuring, used by clips, previews and the hub."""
