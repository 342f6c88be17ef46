"""The function images: built as ``sam build`` builds them, and run as Lambda runs them."""
