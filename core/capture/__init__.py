"""The body capture's steps: video -> person tracks -> crops -> ResNet-50 features; camera geometry; footage."""
