package dev.relayguard.mailet;

import static dev.relayguard.mailet.Pipeline.mailFromStranger;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import javax.mail.MessagingException;

import org.apache.james.core.MailAddress;
import org.apache.mailet.base.test.FakeMatcherConfig;
import org.junit.jupiter.api.Test;

class HasRoutingSyntaxTest {

    private static HasRoutingSyntax matcher(Pipeline pipeline) throws MessagingException {
        return pipeline.init(new HasRoutingSyntax(pipeline.guard));
    }

    @Test
    void aConditionIsRefused() throws Exception {
        HasRoutingSyntax matcher = new HasRoutingSyntax(Pipeline.withPolicy("").guard);
        assertThatThrownBy(() -> matcher.init(FakeMatcherConfig.builder().matcherName("HasRoutingSyntax").condition("%").build()))
            .isInstanceOf(MessagingException.class)
            .hasMessage("mailetcontainer.xml: matcher HasRoutingSyntax takes no condition, got '%'");
    }

    @Test
    void matchesTheRecipientsWithRoutingSyntaxOnly() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy("");
        assertThat(matcher(pipeline).match(mailFromStranger("a@sender.example",
                "bob@example.com", "someone%remote.example@example.com", "remote.example!someone@example.com").build()))
            .containsExactlyInAnyOrder(new MailAddress("someone%remote.example@example.com"),
                new MailAddress("remote.example!someone@example.com"));
        assertThat(pipeline.counters()).as("a matcher counts nothing; the mailet does").isEmpty();
    }

    @Test
    void anIpLiteralMatchesUnlessConfiguredAsLocal() throws Exception {
        assertThat(matcher(Pipeline.withPolicy("")).match(mailFromStranger("a@sender.example", "bob@[192.0.2.1]").build()))
            .containsExactly(new MailAddress("bob@[192.0.2.1]"));
        assertThat(matcher(Pipeline.withPolicy("<localIpLiterals><literal>192.0.2.1</literal></localIpLiterals>"))
            .match(mailFromStranger("a@sender.example", "bob@[192.0.2.1]").build()))
            .isEmpty();
    }

    @Test
    void aRuleInMonitorOrOffModeDoesNotMatchInDeferModeItDoes() throws Exception {
        String percent = "someone%remote.example@example.com";
        assertThat(matcher(Pipeline.withPolicy("<rules><percentHack>monitor</percentHack></rules>"))
            .match(mailFromStranger("a@sender.example", percent).build())).isEmpty();
        assertThat(matcher(Pipeline.withPolicy("<rules><percentHack>off</percentHack></rules>"))
            .match(mailFromStranger("a@sender.example", percent).build())).isEmpty();
        assertThat(matcher(Pipeline.withPolicy("<rules><percentHack>defer</percentHack></rules>"))
            .match(mailFromStranger("a@sender.example", percent).build())).containsExactly(new MailAddress(percent));
    }
}
