"""zsk init's recommended spec, sized with the composer and the train loop."""
