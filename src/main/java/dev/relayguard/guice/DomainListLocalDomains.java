package dev.relayguard.guice;

import org.apache.james.core.Domain;
import org.apache.james.domainlist.api.DomainList;
import org.apache.james.domainlist.api.DomainListException;

import dev.relayguard.core.DomainName;
import dev.relayguard.core.LocalDomains;

/** {@link LocalDomains} answered by James's {@link DomainList}. */
final class DomainListLocalDomains implements LocalDomains {
    private final DomainList domainList;

    DomainListLocalDomains(DomainList domainList) {
        this.domainList = domainList;
    }

    @Override
    public boolean isLocal(String canonicalDomain) throws LookupFailedException {
        String unicode = DomainName.unicode(canonicalDomain);
        return contains(canonicalDomain) || (!unicode.equals(canonicalDomain) && contains(unicode));
    }

    /** James stores a domain as the operator wrote it: an IDN may be there as its A-label or its U-label. */
    private boolean contains(String name) throws LookupFailedException {
        Domain domain;
        try {
            domain = Domain.of(name);
        } catch (IllegalArgumentException e) {
            return false; // not a name James could ever host
        }
        try {
            return domainList.containsDomain(domain);
        } catch (DomainListException | RuntimeException e) {
            throw new LookupFailedException("DomainList lookup failed for " + name, e);
        }
    }
}
