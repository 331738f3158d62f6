//! Python source analysis for the code engine (being written).
