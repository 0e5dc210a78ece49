package dev.relayguard.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;

import javax.mail.Folder;
import javax.mail.Message;
import javax.mail.MessagingException;
import javax.mail.Session;
import javax.mail.Store;
import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;

/**
 * One James 3.8.1 node of a test cluster: a {@link JamesProcess} (its own JVM, the sample configuration and the
 * packaged RelayGuard jar) with RelayGuard's management bean over James's real JMX connector, its SMTP listeners on
 * ports the OS chose, and an IMAP listener (127.0.0.1, port chosen by the OS, plain LOGIN) to read what was delivered.
 * Users live in the node's memory: {@link #addUser} after every (re)start.
 */
public final class JamesNode implements AutoCloseable {
    private static final String BEAN = "org.apache.james:type=extension,name=RelayGuard";
    private static final String IMAP_SERVER = "<imapservers><imapserver enabled=\"true\"><jmxName>imapserver</jmxName>"
        + "<bind>127.0.0.1:0</bind><connectionBacklog>200</connectionBacklog><plainAuthDisallowed>false</plainAuthDisallowed>"
        + "<auth><requireSSL>false</requireSSL><plainAuthEnabled>true</plainAuthEnabled></auth>"
        + "<connectionLimit>0</connectionLimit><connectionLimitPerIP>0</connectionLimitPerIP></imapserver></imapservers>";

    private final String name;
    private final Path root;
    private final JamesProcess james;
    private JMXConnector jmx;
    private MBeanServerConnection connection;
    private int mxPort;
    private int submissionPort;
    private int imapPort;

    private JamesNode(String name, Path root, JamesProcess james) {
        this.name = name;
        this.root = root;
        this.james = james;
    }

    /**
     * Installs a node under {@code root} with this policy ({@code <relayguard>} content; null keeps the sample's
     * relayguard.xml) and starts its JVM; call
     * {@link #awaitUp()} next (nodes started one after the other boot in parallel). The policy file is not watched
     * (reload over JMX only).
     */
    public static JamesNode start(String name, Path root, String policyXml) throws IOException {
        JamesProcess james = JamesProcess.install(root);
        if (policyXml != null) {
            james.conf().policyXml(policyXml);
        }
        james.conf().write("imapserver.xml", IMAP_SERVER);
        james.conf().replace("jvm.properties", "relayguard.reload.checkEvery=10s", "relayguard.reload.checkEvery=0");
        james.start();
        return new JamesNode(name, root, james);
    }

    /** Waits for JMX and the listeners of the started JVM. */
    public JamesNode awaitUp() throws Exception {
        jmx = james.connectJmx();
        connection = jmx.getMBeanServerConnection();
        mxPort = james.boundPort(connection, "smtp-mx");
        submissionPort = james.boundPort(connection, "smtp-submission");
        imapPort = james.boundPort(connection, "imapserver");
        return this;
    }

    /** Stops the JVM (SIGTERM, James's shutdown hook) and starts it again on the same configuration and ports. */
    public JamesNode restart() throws Exception {
        return relaunch().awaitUp();
    }

    /** As {@link #restart()} without waiting: call {@link #awaitUp()} next (several nodes then boot in parallel). */
    public JamesNode relaunch() throws Exception {
        closeJmx();
        james.close();
        james.start();
        return this;
    }

    public String name() {
        return name;
    }

    public SampleConf conf() {
        return james.conf();
    }

    public int mxPort() {
        return mxPort;
    }

    public int submissionPort() {
        return submissionPort;
    }

    /** James's working directory (its {@code conf/}, {@code var/}, the log). */
    public Path root() {
        return root;
    }

    public String log() throws IOException {
        return james.log();
    }

    /** Adds users of the node's memory users repository, each with {@code password}. */
    public void addUsers(String password, String... users) throws Exception {
        ObjectName repository = new ObjectName("org.apache.james:type=component,name=usersrepository");
        for (String user : users) {
            connection.invoke(repository, "addUser", new Object[] {user, password},
                new String[] {String.class.getName(), String.class.getName()});
        }
    }

    /** An operation of RelayGuard's management bean; {@code int} and {@code String} arguments. */
    public Object op(String operation, Object... args) throws Exception {
        String[] signature = Arrays.stream(args)
            .map(arg -> arg instanceof Integer ? "int" : String.class.getName()).toArray(String[]::new);
        return connection.invoke(new ObjectName(BEAN), operation, args, signature);
    }

    /** The lines of a management operation answering {@code String[]}. */
    public List<String> lines(String operation, Object... args) throws Exception {
        return Arrays.asList((String[]) op(operation, args));
    }

    /** An attribute of RelayGuard's management bean. */
    public Object attribute(String attribute) throws Exception {
        return connection.getAttribute(new ObjectName(BEAN), attribute);
    }

    /** A session on the submission listener: EHLO, STARTTLS, AUTH PLAIN answered 235. */
    public SmtpClient submission(String user, String password) throws Exception {
        SmtpClient smtp = SmtpClient.connect(submissionPort);
        smtp.ehlo("cluster.example");
        smtp.startTls("cluster.example");
        SmtpClient.Reply auth = smtp.authPlain(user, password);
        assertThat(auth.code()).as("AUTH of %s on %s: %s", user, name, auth).isEqualTo(235);
        return smtp;
    }

    /**
     * The values of {@code header} in every message of the user's INBOX on this node, read over IMAP (empty when the
     * user never received mail here).
     */
    public List<String> inboxHeaders(String user, String password, String header) throws MessagingException {
        Properties properties = new Properties();
        properties.setProperty("mail.imap.connectiontimeout", "10000");
        properties.setProperty("mail.imap.timeout", "30000");
        Store store = Session.getInstance(properties).getStore("imap");
        store.connect("127.0.0.1", imapPort, user, password);
        try {
            Folder inbox = store.getFolder("INBOX");
            List<String> values = new ArrayList<>();
            if (!inbox.exists()) {
                return values;
            }
            inbox.open(Folder.READ_ONLY);
            try {
                for (Message message : inbox.getMessages()) {
                    String[] found = message.getHeader(header);
                    if (found != null) {
                        values.addAll(Arrays.asList(found));
                    }
                }
            } finally {
                inbox.close(false);
            }
            return values;
        } finally {
            store.close();
        }
    }

    private void closeJmx() throws IOException {
        if (jmx != null) {
            try {
                jmx.close();
            } catch (IOException e) {
                // the JVM may already be gone
            }
            jmx = null;
        }
    }

    /** Stops the JVM. */
    @Override
    public void close() throws Exception {
        closeJmx();
        james.close();
    }

    @Override
    public String toString() {
        return "node " + name;
    }
}
