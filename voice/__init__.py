"""The phone line: telephony transports turned into typed frames, speech in and out, and the
call flow that runs the same dialogue as the web chat."""
