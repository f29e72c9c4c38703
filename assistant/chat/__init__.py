"""The chat page: a local Gradio app that answers from the index and shows each cited passage highlighted."""
