// SPDX-License-Identifier: LGPL-2.1-or-later
//
// RtcstreamWhipSignaller: the client side of WHIP (RFC 9725, publishing) and
// WHEP (receiving) over HTTP(S). As a producer it speaks WHIP, as a consumer
// WHEP; in both the element offers, the offer is POSTed to the endpoint and
// the answer comes back in the reply, whose Location names the session's
// resource (PATCHed with trickled candidates, DELETEd at the end). All HTTP
// work runs on a thread and GMainContext of its own. See docs/whip-whep.md.
#pragma once

#include "rtcstream/signallers/base-signaller.h"

G_BEGIN_DECLS

typedef enum {
  RTCSTREAM_WHIP_ICE_MODE_TRICKLE,  /* POST at once, PATCH candidates as they come */
  RTCSTREAM_WHIP_ICE_MODE_FULL,     /* gather all candidates, put them in the offer */
} RtcstreamWhipIceMode;

GType rtcstream_whip_ice_mode_get_type (void);
#define RTCSTREAM_TYPE_WHIP_ICE_MODE (rtcstream_whip_ice_mode_get_type ())

#define RTCSTREAM_TYPE_WHIP_SIGNALLER (rtcstream_whip_signaller_get_type ())
G_DECLARE_FINAL_TYPE (RtcstreamWhipSignaller, rtcstream_whip_signaller, RTCSTREAM,
    WHIP_SIGNALLER, RtcstreamBaseSignaller)

/* url: http(s)://HOST[:PORT]/PATH of a WHIP (producer) or WHEP (consumer)
 * endpoint. */
RtcstreamWhipSignaller *rtcstream_whip_signaller_new (const gchar *url);

G_END_DECLS
