"""Screens over the main one: help (`?`) and the instrument finder (`/`)."""
