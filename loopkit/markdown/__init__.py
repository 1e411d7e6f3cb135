"""The only package that imports markdown_it. Parsers are pure: text in, records and warnings out."""
