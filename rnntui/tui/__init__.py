"""The Textual debugger UI. It reads only the engine's immutable StepRecords."""
