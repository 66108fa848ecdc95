// strongSwan's VICI protocol: message elements, packets and frames, and a session with charon.
export * from './message.js';
export * from './packet.js';
export * from './session.js';
