"""The body capture's steps: video frames -> person tracks -> crops -> ResNet-50 features; the camera geometry; footage."""
