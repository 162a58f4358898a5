// SPDX-License-Identifier: LGPL-2.1-or-later
//
// What webrtcbin's API cannot do yet, done on its libnice agent.
//
// Its pacing and UPnP: webrtcbin has no setting for either.
//
// A TURN server known only after the offer was created (a WHIP/WHEP endpoint
// announces its servers in the Link headers of its answer) must reach the
// ICE streams webrtcbin made with the offer. In GStreamer 1.22,
// add-turn-server only stores the server for streams created later, so it
// would never be used; libnice itself takes relay information per stream at
// any time before gathering starts.
#pragma once

#include <gst/gst.h>

#include <string>

namespace rtcstream {

// The interval between two ICE connectivity checks (Ta). libnice's default,
// 20 ms, made ICE take ~65 ms on loopback (a check, its answer, the
// nomination: each waits for the next tick); RFC 8445 allows 5 ms.
constexpr guint kIcePacingMs = 5;

// Paces webrtcbin's libnice agent's connectivity checks at kIcePacingMs.
// Call it on a new webrtcbin, before anything is negotiated. Does nothing
// when the agent is not libnice's.
void pace_ice_checks (GstElement *webrtcbin);

// Gives the TURN server (a turn(s):// URI as turn-servers takes it) to every
// ICE stream of webrtcbin's agent; call it before set-local-description
// starts gathering. Falls back to add-turn-server when the agent is not
// libnice's. Resolves a host name synchronously (call it off streaming
// threads). Returns false and sets error (a sentence without the password)
// when the URI is invalid, the host does not resolve or no stream took it.
bool add_turn_server_to_streams (GstElement *webrtcbin, const std::string &uri,
    std::string &error);

// Turns off libnice's UPnP port mapping on webrtcbin's agent (on by default
// in libnice: every session would search the LAN for a router by multicast
// and log "Address already in use" where several agents run). Harmless when
// the agent is not libnice's.
void disable_upnp (GstElement *webrtcbin);

// Turns ICE over TCP (RFC 6544 host candidates, active and passive) on or
// off on webrtcbin's agent; call it on a new webrtcbin, before gathering.
// TURN over TCP works either way (its allocation is made from the UDP
// candidate). Harmless when the agent has no such setting.
void set_ice_tcp (GstElement *webrtcbin, bool on);

}  // namespace rtcstream
