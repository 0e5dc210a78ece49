package dev.relayguard.webadmin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.when;

import javax.servlet.http.HttpServletRequest;

import org.apache.james.webadmin.authentication.AuthenticationFilter;
import org.junit.jupiter.api.Test;

import spark.Request;

/** Issue 16 (M2): who a WebAdmin change is audited as made by. */
class WebAdminActorTest {

    @Test
    void theJwtLoginJamesPutInTheRequestIsWho() {
        Request request = mock(Request.class);
        when(request.attribute(AuthenticationFilter.LOGIN)).thenReturn("admin@example.com");
        when(request.ip()).thenReturn("127.0.0.1");

        assertThat(WebAdminActor.of(request)).isEqualTo("admin@example.com");
    }

    /** Not request.ip(): James's Jetty fills that from X-Forwarded-For, which any caller writes (WebAdminRoutesIT: by=127.0.0.1). */
    @Test
    void withoutJwtOnlyTheConnectionIsWhoNeverAForwardingHeader() {
        Request request = mock(Request.class);
        HttpServletRequest raw = mock(HttpServletRequest.class); // not Jetty's: no connection to read
        when(request.raw()).thenReturn(raw);
        when(request.ip()).thenReturn("6.6.6.6");
        when(raw.getHeader("X-Forwarded-For")).thenReturn("6.6.6.6");

        assertThat(WebAdminActor.of(request)).isNull();
    }

    @Test
    void theFilterRemembersWhoForTheRestOfTheRequestOnItsThreadAndForgetsIt() {
        Request request = mock(Request.class);
        when(request.attribute(AuthenticationFilter.LOGIN)).thenReturn("admin@example.com");

        WebAdminActor.remember(request, null);
        assertThat(WebAdminActor.current()).isEqualTo("admin@example.com");
        WebAdminActor.forget(request, null);
        assertThat(WebAdminActor.current()).isNull();
    }
}
