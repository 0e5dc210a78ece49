package dev.relayguard.webadmin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.when;

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

    @Test
    void withoutJwtTheClientAddressIsWho() {
        Request request = mock(Request.class);
        when(request.ip()).thenReturn("::1");

        assertThat(WebAdminActor.of(request)).isEqualTo("::1");
    }

    @Test
    void theFilterRemembersWhoForTheRestOfTheRequestOnItsThread() {
        Request request = mock(Request.class);
        when(request.ip()).thenReturn("192.0.2.9");

        WebAdminActor.remember(request, null);

        assertThat(WebAdminActor.current()).isEqualTo("192.0.2.9");
    }
}
