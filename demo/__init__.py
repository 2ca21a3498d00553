"""The demo: real data streamed as feature events, with labels arriving later."""
