"""The application core: images, engine, upscaling, batch, sampling, model library. No Qt here."""
